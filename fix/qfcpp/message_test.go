package qfcpp

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		sep     byte
		want    []Field
		wantErr bool
	}{
		{name: "pipes", in: "8=FIX.4.2|35=8|58=a=b|10=123|", sep: '|',
			want: []Field{{8, "FIX.4.2"}, {35, "8"}, {58, "a=b"}, {10, "123"}}},
		{name: "SOH without trailer", in: "8=FIX.4.4\x0135=j", sep: 0x01, want: []Field{{8, "FIX.4.4"}, {35, "j"}}},
		{name: "empty value", in: "58=|", sep: '|', want: []Field{{58, ""}}},
		{name: "empty", in: "", sep: '|', wantErr: true},
		{name: "no equals", in: "8=FIX.4.2|oops|", sep: '|', wantErr: true},
		{name: "bad tag", in: "x=1|", sep: '|', wantErr: true},
		{name: "zero tag", in: "0=1|", sep: '|', wantErr: true},
		{name: "empty field", in: "8=FIX.4.2||35=8|", sep: '|', wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage(tc.in, tc.sep)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseMessage(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !reflect.DeepEqual(m.Fields(), tc.want) {
				t.Errorf("fields %v, want %v", m.Fields(), tc.want)
			}
		})
	}
	m, _ := ParseMessage("8=FIX.4.2|35=8|11=a|11=b|", '|')
	if m.Type() != "8" || m.Get(11) != "a" || m.Has(58) || m.Get(58) != "" || m.String() != "8=FIX.4.2|35=8|11=a|11=b|" {
		t.Errorf("accessors of %v", m)
	}
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		name         string
		header, body string
		want         Entry
		ok           bool
	}{
		{
			name:   "incoming",
			header: "<20261201-22:25:32.938817000, FIX.4.2:EXEC->BRK, incoming>",
			body:   "  (8=FIX.4.2\x0135=D\x0111=c1\x0110=075\x01)",
			want: Entry{Time: "20261201-22:25:32.938817000", Session: "FIX.4.2:EXEC->BRK", Kind: Incoming,
				Text: "8=FIX.4.2|35=D|11=c1|10=075|"},
			ok: true,
		},
		{
			name:   "event",
			header: "<20261201-22:25:30.952525000, GLOBAL, event>",
			body:   "  (Accepted connection from 127.0.0.1 on port 23456)",
			want: Entry{Time: "20261201-22:25:30.952525000", Session: "GLOBAL", Kind: SessionEvent,
				Text: "Accepted connection from 127.0.0.1 on port 23456"},
			ok: true,
		},
		{name: "not a header", header: "Type Ctrl-C to quit", body: "  (Created session)"},
		{name: "not a body", header: "<20261201-22:25:30.952525000, GLOBAL, event>", body: "SYMBOLS:"},
		{name: "unknown kind", header: "<t, GLOBAL, other>", body: "  (x)"},
		{name: "bad message", header: "<t, FIX.4.2:A->B, outgoing>", body: "  (garbage)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := parseEntry(tc.header, tc.body)
			if ok != tc.ok {
				t.Fatalf("parseEntry ok = %v, want %v", ok, tc.ok)
			}
			msg := e.Msg
			e.Msg = Message{}
			if !reflect.DeepEqual(e, tc.want) {
				t.Errorf("entry %+v, want %+v", e, tc.want)
			}
			if tc.want.Kind == Incoming && msg.Get(11) != "c1" {
				t.Errorf("message %v", msg)
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		line string
		kind EventKind
		text string
		msg  string
	}{
		{line: "LOGON FIX.4.4:BRK->EXEC", kind: EventLogon, text: "FIX.4.4:BRK->EXEC"},
		{line: "APP 8=FIX.4.4|35=8|11=c1|", kind: EventApp, text: "8=FIX.4.4|35=8|11=c1|", msg: "8=FIX.4.4|35=8|11=c1|"},
		{line: "ERROR unknown field 1234567", kind: EventError, text: "unknown field 1234567"},
		{line: "BYE", kind: EventBye},
	} {
		e := parseEvent(tc.line)
		if e.Kind != tc.kind || e.Text != tc.text || e.Msg.String() != tc.msg {
			t.Errorf("parseEvent(%q) = %+v", tc.line, e)
		}
	}
}

func TestRequestLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     Request
		want    string
		wantErr string
	}{
		{
			name: "new order",
			req: Request{MsgType: "D", ClOrdID: "c1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "17.00",
				Extra: []Field{{Tag: 59, Value: "0"}}},
			want: "D ClOrdID=c1 Account=A1 Symbol=600519 SecurityExchange=XSHG Side=1 OrderQty=100 Price=17.00 59=0",
		},
		{name: "status", req: Request{MsgType: "H", ClOrdID: "c1", OrderID: "O1"}, want: "H ClOrdID=c1 OrderID=O1"},
		{name: "unknown type", req: Request{MsgType: "V"}, wantErr: "none of D, F, G, H"},
		{name: "space", req: Request{MsgType: "D", ClOrdID: "c 1"}, wantErr: "contains a space"},
		{name: "newline", req: Request{MsgType: "D", Account: "A1\nquit"}, wantErr: "contains a space"},
		{name: "extra without tag", req: Request{MsgType: "D", Extra: []Field{{Value: "x"}}}, wantErr: "tag or value missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.line()
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("line() error %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("line(): %v", err)
			case got != tc.want:
				t.Errorf("line() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSettingsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cfg")
	f := settingsFile{
		defaults: map[string]string{"StartTime": "00:00:00", "ConnectionType": "acceptor"},
		sessions: []map[string]string{Session{BeginString: FIX42, SenderCompID: "A", TargetCompID: "B"}.settings()},
	}
	if err := f.write(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "[DEFAULT]\nConnectionType=acceptor\nStartTime=00:00:00\n[SESSION]\nBeginString=FIX.4.2\nSenderCompID=A\nTargetCompID=B\n"
	if string(got) != want {
		t.Errorf("settings file:\n%s\nwant:\n%s", got, want)
	}
	f.defaults["Password"] = "a\nb"
	if err := f.write(path); err == nil {
		t.Error("a value with a newline was written")
	}
}

func TestSessionCheck(t *testing.T) {
	for _, tc := range []struct {
		s            Session
		want         string // BeginString after defaults; "" for an error
		defaultBegin string
	}{
		{s: Session{SenderCompID: "A", TargetCompID: "B"}, defaultBegin: FIX44, want: FIX44},
		{s: Session{BeginString: FIX42, SenderCompID: "A", TargetCompID: "B"}, defaultBegin: FIX44, want: FIX42},
		{s: Session{BeginString: "FIX.5.0", SenderCompID: "A", TargetCompID: "B"}, defaultBegin: FIX44},
		{s: Session{TargetCompID: "B"}, defaultBegin: FIX44},
	} {
		got, err := tc.s.check(tc.defaultBegin)
		if (err == nil) != (tc.want != "") || (err == nil && got.BeginString != tc.want) {
			t.Errorf("check(%+v) = %+v, %v", tc.s, got, err)
		}
	}
}
