"""flowalign_nb plugin for sentence encoders (all-MiniLM-L6-v2)."""
