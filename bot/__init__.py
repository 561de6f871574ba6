"""The Discord layer: knows discord.py, knows nothing of SQLite or FAISS."""
