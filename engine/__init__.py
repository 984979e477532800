"""spinflow runtime: generic, knows nothing about sales."""
