"""Administration workflows from the book's "Cyrus System Administration", over IMAP and server tools."""
