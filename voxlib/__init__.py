"""voxlib."""
