"""Help requests for instructors and TAs: the queue, claims ("on my way") and wait figures."""
