"""Tests that rebuild the docker-compose network setup with Linux network namespaces."""
