package tlcp

import "strconv"

// Alert is an alert description (GB/T 38636-2020 6.3.3, Alert protocol).
type Alert uint8

// Alert levels.
const (
	alertLevelWarning = 1
	alertLevelError   = 2
)

// Alert descriptions. The first ones are TLS 1.1's; 200 and over are
// TLCP's own.
const (
	AlertCloseNotify            Alert = 0
	AlertUnexpectedMessage      Alert = 10
	AlertBadRecordMAC           Alert = 20
	AlertDecryptionFailed       Alert = 21
	AlertRecordOverflow         Alert = 22
	AlertDecompressionFailure   Alert = 30
	AlertHandshakeFailure       Alert = 40
	AlertBadCertificate         Alert = 42
	AlertUnsupportedCertificate Alert = 43
	AlertCertificateRevoked     Alert = 44
	AlertCertificateExpired     Alert = 45
	AlertCertificateUnknown     Alert = 46
	AlertIllegalParameter       Alert = 47
	AlertUnknownCA              Alert = 48
	AlertAccessDenied           Alert = 49
	AlertDecodeError            Alert = 50
	AlertDecryptError           Alert = 51
	AlertProtocolVersion        Alert = 70
	AlertInsufficientSecurity   Alert = 71
	AlertInternalError          Alert = 80
	AlertUserCanceled           Alert = 90
	AlertNoRenegotiation        Alert = 100
	AlertUnsupportedSite2Site   Alert = 200
	AlertNoArea                 Alert = 201
	AlertUnsupportedAreaType    Alert = 202
	AlertBadIBCParam            Alert = 203
	AlertUnsupportedIBCParam    Alert = 204
	AlertIdentityNeed           Alert = 205
)

var alertNames = map[Alert]string{
	AlertCloseNotify:            "close notify",
	AlertUnexpectedMessage:      "unexpected message",
	AlertBadRecordMAC:           "bad record MAC",
	AlertDecryptionFailed:       "decryption failed",
	AlertRecordOverflow:         "record overflow",
	AlertDecompressionFailure:   "decompression failure",
	AlertHandshakeFailure:       "handshake failure",
	AlertBadCertificate:         "bad certificate",
	AlertUnsupportedCertificate: "unsupported certificate",
	AlertCertificateRevoked:     "revoked certificate",
	AlertCertificateExpired:     "expired certificate",
	AlertCertificateUnknown:     "unknown certificate",
	AlertIllegalParameter:       "illegal parameter",
	AlertUnknownCA:              "unknown certificate authority",
	AlertAccessDenied:           "access denied",
	AlertDecodeError:            "error decoding message",
	AlertDecryptError:           "error decrypting message",
	AlertProtocolVersion:        "protocol version not supported",
	AlertInsufficientSecurity:   "insufficient security level",
	AlertInternalError:          "internal error",
	AlertUserCanceled:           "user canceled",
	AlertNoRenegotiation:        "no renegotiation",
	AlertUnsupportedSite2Site:   "unsupported site2site",
	AlertNoArea:                 "no area",
	AlertUnsupportedAreaType:    "unsupported area type",
	AlertBadIBCParam:            "bad IBC parameter",
	AlertUnsupportedIBCParam:    "unsupported IBC parameter",
	AlertIdentityNeed:           "identity needed",
}

func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}
