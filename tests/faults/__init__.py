"""The fault matrix (docs/reliability.md): each fault on real Docker and real processes."""
