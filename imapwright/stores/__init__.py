"""Mailstores the harness builds and reads back for its own checks (not the book's workflows):
the upgrade store, the small recovery store, seeded mailbox lists, snapshots, folder trees."""
