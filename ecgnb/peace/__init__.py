"""PEACE: tri-axial clinical semantics, text encoders, label-query network, cross-modal alignment."""
