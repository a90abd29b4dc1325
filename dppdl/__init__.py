"""DPPDL: fair, decentralized, privacy-preserving deep learning on Ethereum."""

__version__ = "0.1.0"
