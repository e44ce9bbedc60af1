"""Watershed core: the domain, storage and wire protocols shared by every function."""
