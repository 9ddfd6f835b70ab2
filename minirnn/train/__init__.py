"""minirnn.train."""
