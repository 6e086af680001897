// initiator is the broker of the qfcpp test kit: a QuickFIX C++ initiator
// that logs on to the one session of the settings file named by its
// argument, sends the orders it reads on stdin and prints every message it
// receives on stdout, one line each. Package qfcpp builds and drives it.
//
// Commands, one per line: a MsgType, then fields as Name=value separated by
// spaces. A name is a tag number (59=0) or one of Account, ClOrdID,
// OrigClOrdID, OrderID, Symbol, SecurityExchange, Side, OrderQty, Price,
// OrdType and TimeInForce.
//
//   D ClOrdID=c1 Account=A1 Symbol=600519 SecurityExchange=XSHG Side=1 OrderQty=100 Price=17.00
//   F ClOrdID=c2 OrigClOrdID=c1 Symbol=600519 Side=1 OrderQty=100
//   G ClOrdID=c3 OrigClOrdID=c1 Symbol=600519 Side=1 OrderQty=200 Price=17.10
//   H ClOrdID=c1 Symbol=600519 Side=1
//   quit
//
// D and G get HandlInst 1, OrdType 2 (limit) and TransactTime; F gets
// TransactTime; each only where the command does not set it. A header
// field goes into the header, as a broker's application sets it there:
//
//   G ClOrdID=c3 OrigClOrdID=c1 Symbol=600519 Side=1 OrderQty=200 Price=17.10 97=Y
//
// resends the replace flagged PossResend. The session sets the header's
// CompIDs, MsgSeqNum and SendingTime itself, and drops PossDupFlag (43).
//
// Output lines:
//
//   LOGON <session>      the session logged on
//   LOGOUT <session>     the session ended (also after a refused logon)
//   APP <message>        an application message received
//   ADMIN <message>      a session message received, except Heartbeat and TestRequest
//   SENT <message>       the message of a command, handed to the session
//   ERROR <text>         a command that was not sent
//   REJECT <message>     a Reject (3) or BusinessMessageReject (j) the session
//                        sends: a received message it refused (with a data
//                        dictionary, one that fails validation)
//   BYE                  after quit (or end of input), once logged out
//
// A message is printed as its tag=value fields separated by '|'. Every
// command is answered by exactly one SENT or ERROR line, in order.
//
// The settings may hold LogonPassword and LogonUsername: they are sent as
// Password (554) and Username (553) in the Logon, whatever the FIX version.

#include "quickfix/Application.h"
#include "quickfix/FileLog.h"
#include "quickfix/FileStore.h"
#include "quickfix/Session.h"
#include "quickfix/SessionSettings.h"
#include "quickfix/SocketInitiator.h"

#include <cctype>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

namespace
{

std::mutex outMutex;

// say prints one output line; it is called from the main thread and from
// QuickFIX's session thread.
void say( const std::string& kind, const std::string& text )
{
  std::lock_guard<std::mutex> lock( outMutex );
  std::cout << kind;
  if ( !text.empty() )
    std::cout << ' ' << text;
  std::cout << std::endl;
}

std::string oneLine( const FIX::Message& message )
{
  std::string s = message.toString();
  for ( char& c : s )
    if ( c == '\001' ) c = '|';
  return s;
}

class Broker : public FIX::Application
{
public:
  Broker( const std::string& username, const std::string& password )
  : m_username( username ), m_password( password ) {}

  void onCreate( const FIX::SessionID& ) {}
  void onLogon( const FIX::SessionID& id ) { say( "LOGON", id.toString() ); }
  void onLogout( const FIX::SessionID& id ) { say( "LOGOUT", id.toString() ); }

  void toAdmin( FIX::Message& message, const FIX::SessionID& )
  {
    const std::string& type = message.getHeader().getField( FIX::FIELD::MsgType );
    if ( type == "3" )
      say( "REJECT", oneLine( message ) );
    if ( type != "A" )
      return;
    if ( !m_username.empty() )
      message.setField( FIX::FIELD::Username, m_username );
    if ( !m_password.empty() )
      message.setField( FIX::FIELD::Password, m_password );
  }

  void toApp( FIX::Message& message, const FIX::SessionID& ) throw( FIX::DoNotSend )
  {
    if ( message.getHeader().getField( FIX::FIELD::MsgType ) == "j" )
      say( "REJECT", oneLine( message ) );
  }

  void fromAdmin( const FIX::Message& message, const FIX::SessionID& )
  throw( FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon )
  {
    const std::string& type = message.getHeader().getField( FIX::FIELD::MsgType );
    if ( type != "0" && type != "1" )
      say( "ADMIN", oneLine( message ) );
  }

  void fromApp( const FIX::Message& message, const FIX::SessionID& )
  throw( FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType )
  {
    say( "APP", oneLine( message ) );
  }

private:
  std::string m_username, m_password;
};

const std::map<std::string, int> fieldNames = {
  { "Account", FIX::FIELD::Account },
  { "ClOrdID", FIX::FIELD::ClOrdID },
  { "OrigClOrdID", FIX::FIELD::OrigClOrdID },
  { "OrderID", FIX::FIELD::OrderID },
  { "Symbol", FIX::FIELD::Symbol },
  { "SecurityExchange", FIX::FIELD::SecurityExchange },
  { "Side", FIX::FIELD::Side },
  { "OrderQty", FIX::FIELD::OrderQty },
  { "Price", FIX::FIELD::Price },
  { "OrdType", FIX::FIELD::OrdType },
  { "TimeInForce", FIX::FIELD::TimeInForce },
};

// parse turns a command line into a message; it returns an empty string or
// the reason the line is not a command.
std::string parse( const std::string& line, const std::string& beginString, FIX::Message& message )
{
  std::istringstream in( line );
  std::string type, item;
  in >> type;
  if ( type != "D" && type != "F" && type != "G" && type != "H" )
    return "unknown command " + type;
  message.getHeader().setField( FIX::FIELD::BeginString, beginString );
  message.getHeader().setField( FIX::FIELD::MsgType, type );
  while ( in >> item )
  {
    std::string::size_type eq = item.find( '=' );
    if ( eq == std::string::npos || eq == 0 || eq + 1 == item.size() )
      return "bad field " + item;
    std::string name = item.substr( 0, eq );
    int tag = 0;
    std::map<std::string, int>::const_iterator known = fieldNames.find( name );
    if ( known != fieldNames.end() )
      tag = known->second;
    else if ( name.find_first_not_of( "0123456789" ) == std::string::npos && name.size() < 6 )
      tag = std::stoi( name );
    if ( tag <= 0 )
      return "unknown field " + name;
    if ( FIX::Message::isHeaderField( tag ) )
      message.getHeader().setField( tag, item.substr( eq + 1 ) );
    else
      message.setField( tag, item.substr( eq + 1 ) );
  }
  if ( type == "D" || type == "G" )
  {
    if ( !message.isSetField( FIX::FIELD::HandlInst ) )
      message.setField( FIX::HandlInst( FIX::HandlInst_AUTOMATED_EXECUTION_ORDER_PRIVATE_NO_BROKER_INTERVENTION ) );
    if ( !message.isSetField( FIX::FIELD::OrdType ) )
      message.setField( FIX::OrdType( FIX::OrdType_LIMIT ) );
  }
  if ( type != "H" && !message.isSetField( FIX::FIELD::TransactTime ) )
    message.setField( FIX::TransactTime( 3 ) );
  return "";
}

} // namespace

int main( int argc, char** argv )
{
  if ( argc != 2 )
  {
    std::cerr << "usage: " << argv[ 0 ] << " SETTINGS" << std::endl;
    return 2;
  }
  try
  {
    FIX::SessionSettings settings( argv[ 1 ] );
    if ( settings.getSessions().size() != 1 )
    {
      std::cerr << "initiator: the settings must hold exactly one session" << std::endl;
      return 2;
    }
    const FIX::SessionID id = *settings.getSessions().begin();
    const FIX::Dictionary& d = settings.get( id );
    Broker broker( d.has( "LogonUsername" ) ? d.getString( "LogonUsername" ) : "",
                   d.has( "LogonPassword" ) ? d.getString( "LogonPassword" ) : "" );
    FIX::FileStoreFactory stores( settings );
    FIX::FileLogFactory logs( settings );
    FIX::SocketInitiator initiator( broker, stores, settings, logs );
    initiator.start();

    std::string line;
    while ( std::getline( std::cin, line ) )
    {
      if ( line.find_first_not_of( " \t\r" ) == std::string::npos )
        continue;
      if ( line == "quit" )
        break;
      FIX::Message message;
      std::string err;
      try
      {
        err = parse( line, id.getBeginString().getValue(), message );
        if ( err.empty() && !FIX::Session::sendToTarget( message, id ) )
          err = "not sent";
      }
      catch ( std::exception& e )
      {
        err = e.what();
      }
      if ( err.empty() )
        say( "SENT", oneLine( message ) );
      else
        say( "ERROR", err );
    }
    initiator.stop();
    say( "BYE", "" );
    return 0;
  }
  catch ( std::exception& e )
  {
    std::cerr << "initiator: " << e.what() << std::endl;
    return 1;
  }
}
