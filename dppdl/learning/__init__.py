"""dppdl.learning"""
