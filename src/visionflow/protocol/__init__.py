"""The wire format: 28-byte binary records and the JSON control messages beside them.

``ID_MASK`` (the low 30 bits of a node id: the id without its agent and knowledge flags) is defined
once, in ``swarm.models``, where every stage may import it; it is the wire format's, so it is named here too.
"""

from visionflow.protocol.binary import (
    RECORD_DTYPE,
    RECORD_SIZE,
    DecodedFrame,
    DeltaEncoder,
    FrameEncoder,
    decode,
    encode,
)
from visionflow.swarm.models import ID_MASK

__all__ = ["ID_MASK", "RECORD_DTYPE", "RECORD_SIZE", "DecodedFrame", "DeltaEncoder", "FrameEncoder", "decode", "encode"]
