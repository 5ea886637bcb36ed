def clear_cache() -> None:
    pass
