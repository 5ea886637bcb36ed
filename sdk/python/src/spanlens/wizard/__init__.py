"""`spanlens init` and `spanlens test`: connect an existing project to a Spanlens server."""
