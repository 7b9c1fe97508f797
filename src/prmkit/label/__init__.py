"""Automatic step labeling: mc, omega, progress, verify, judge, consensus."""
