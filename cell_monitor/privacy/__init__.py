"""Privacy of student data: pseudonymous identities, export and erasure."""
