"""The HTTP face (FastAPI) and the command line; both thin layers over suppressor/."""
