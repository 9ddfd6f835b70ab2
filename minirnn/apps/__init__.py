"""minirnn.apps."""
