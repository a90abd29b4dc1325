"""dppdl.chain"""
