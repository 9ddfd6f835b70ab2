"""minirnn.check."""
