"""Named faults that damage a real server's on-disk state, found through the server's own layout."""
