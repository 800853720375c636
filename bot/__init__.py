"""Gongzhi (共治): a Telegram bot for a street office's community governance."""
