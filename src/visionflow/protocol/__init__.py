"""The wire format: 28-byte binary records and the JSON control messages beside them."""

from visionflow.protocol.binary import (
    RECORD_DTYPE,
    RECORD_SIZE,
    DecodedFrame,
    DeltaEncoder,
    FrameEncoder,
    decode,
    encode,
)

__all__ = ["RECORD_DTYPE", "RECORD_SIZE", "DecodedFrame", "DeltaEncoder", "FrameEncoder", "decode", "encode"]
