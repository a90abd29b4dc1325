"""dppdl.protocol"""
