"""Jingyan (经验库): intake, mining and a searchable library of Party-building practices."""

__version__ = "0.1.0"
