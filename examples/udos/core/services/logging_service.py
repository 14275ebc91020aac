"""Structured logging to memory/logs, one file a day."""

import logging


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(f"udos.{name}")
    logger.setLevel(logging.INFO)
    return logger
