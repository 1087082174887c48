"""One router module per resource, assembled in :mod:`api.main`."""
