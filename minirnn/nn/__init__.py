"""minirnn.nn."""
