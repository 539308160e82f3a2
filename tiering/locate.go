package tiering

import "strata/blockstore"

// Locate names the tier a read of the whole of info's version would be
// served from now, without reading it and without counting an access (no
// admission, no recency, no hit counters): TierRAM when every segment is
// in RAM, TierSSD when each is in RAM or on the SSD, TierHDD otherwise;
// "" for an empty blob, which a read serves from no tier. It is what
// Object.Tier would say after reading everything, so HEAD can report the
// tier the GET it mirrors would. The SSD's answer comes from its index; a copy that then fails
// verification is read from the HDD instead.
func (s *Store) Locate(info blockstore.Info) Tier {
	if info.Size == 0 {
		return ""
	}
	lay := s.layout(info)
	tier := TierRAM
	for seg := range lay.nseg {
		k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
		switch {
		case s.ram != nil && s.ram.containsQuietly(k):
		case s.ssd != nil && s.ssd.contains(k.hash()):
			tier = TierSSD
		default:
			return TierHDD
		}
	}
	return tier
}

// Locate is Store.Locate for this object's version: the tier Tier would
// name after a read of all of it. It reads nothing.
func (o *Object) Locate() string { return string(o.s.Locate(o.info)) }
