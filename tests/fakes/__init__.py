"""Fakes at process boundaries (an Ollama server on loopback) for integration tests."""
