"""Protocol clients the suites and load scenarios speak to servers with."""
