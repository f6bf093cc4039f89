"""Real IMAP servers in containers: images, managed servers, external targets."""
