"""Protocol clients for Locust: one request event per protocol command on a persistent connection."""
