"""The embedded runtime behind `make run`: moto, the handlers and their local front doors."""
