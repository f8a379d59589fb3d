"""Thin Typer commands, one module per noun: parse options, call one core function, render."""
