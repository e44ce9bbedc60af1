"""One module per wire format; each only translates to and from the model."""
