"""Access checks through the forge's API: who wrote a command and whether they may run it."""
