"""The Chamilo stand-in: PHP router and user methods, plus the files prepared for it."""
