"""Format readers: bytes of one format → ``list[Block]`` plus what was learnt about the source."""
