// statusvenue is a venue of the qfcpp test kit: a QuickFIX C++ acceptor
// that rests every order and answers status requests, which neither
// example venue does. Its argument is the settings file; it serves the
// sessions there (FIX.4.2 and FIX.4.4), logs with QuickFIX's ScreenLog on
// stdout and prints "statusvenue: listening" once it listens. It exits at
// the end of its standard input. Package qfcpp builds and drives it.
//
// What it answers, on the session the request came in on:
//
//   D  a new ClOrdID: ExecutionReport ExecType 0, OrdStatus 0 (FIX 4.2:
//      ExecTransType 0), OrderID O<n>, ExecID E<n>, CumQty 0, LeavesQty =
//      OrderQty, AvgPx 0; the order rests. A ClOrdID it has seen (a
//      PossDup resend of an order it has is one): ExecType 8, OrdStatus 8,
//      OrdRejReason 6 (duplicate order), Text "Duplicate ClOrdID".
//   F  OrigClOrdID naming a resting order: ExecutionReport ExecType 4,
//      OrdStatus 4 under the cancel's ClOrdID, with OrigClOrdID, LeavesQty
//      0. Otherwise OrderCancelReject (9), CxlRejResponseTo 1,
//      CxlRejReason 1 (unknown order) or 0 (too late: canceled already).
//   H  ClOrdID naming an order (its own, or a cancel's): ExecutionReport
//      ExecType I (FIX 4.2: ExecTransType 3, ExecType = OrdStatus), the
//      order's OrdStatus, OrderID, ExecID 0. Unknown: OrdStatus 8,
//      OrdRejReason 5 (unknown order), Text "Unknown order".
//   anything else: BusinessMessageReject, unsupported message type.
//
// Its orders are kept in memory: a restarted statusvenue knows none.

#include "quickfix/Application.h"
#include "quickfix/FileStore.h"
#include "quickfix/Log.h"
#include "quickfix/Session.h"
#include "quickfix/SessionSettings.h"
#include "quickfix/SocketAcceptor.h"

#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace
{

struct Order
{
  std::string clOrdID, orderID, symbol, side, qty, account;
  char status = '0';
};

class Venue : public FIX::Application
{
public:
  void onCreate( const FIX::SessionID& ) {}
  void onLogon( const FIX::SessionID& ) {}
  void onLogout( const FIX::SessionID& ) {}
  void toAdmin( FIX::Message&, const FIX::SessionID& ) {}
  void toApp( FIX::Message&, const FIX::SessionID& ) throw( FIX::DoNotSend ) {}
  void fromAdmin( const FIX::Message&, const FIX::SessionID& )
  throw( FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon ) {}

  void fromApp( const FIX::Message& message, const FIX::SessionID& id )
  throw( FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType )
  {
    std::lock_guard<std::mutex> lock( m_mutex );
    const std::string& type = message.getHeader().getField( FIX::FIELD::MsgType );
    const bool fix42 = id.getBeginString().getValue() == "FIX.4.2";
    if ( type == "D" )
      newOrder( message, id, fix42 );
    else if ( type == "F" )
      cancel( message, id, fix42 );
    else if ( type == "H" )
      status( message, id, fix42 );
    else
      throw FIX::UnsupportedMessageType();
  }

private:
  static std::string get( const FIX::Message& m, int tag )
  {
    return m.isSetField( tag ) ? m.getField( tag ) : std::string();
  }

  // report is an ExecutionReport of o; execType is FIX 4.4's.
  FIX::Message report( const Order& o, char execType, bool fix42, const std::string& execID )
  {
    FIX::Message r;
    r.getHeader().setField( FIX::FIELD::MsgType, "8" );
    r.setField( FIX::FIELD::ClOrdID, o.clOrdID );
    r.setField( FIX::FIELD::OrderID, o.orderID.empty() ? "NONE" : o.orderID );
    r.setField( FIX::FIELD::ExecID, execID );
    if ( fix42 )
    {
      r.setField( FIX::FIELD::ExecTransType, execType == 'I' ? "3" : "0" );
      r.setField( FIX::FIELD::ExecType, std::string( 1, execType == 'I' ? o.status : execType ) );
      r.setField( FIX::FIELD::LastShares, "0" );
      r.setField( FIX::FIELD::LastPx, "0" );
    }
    else
      r.setField( FIX::FIELD::ExecType, std::string( 1, execType ) );
    r.setField( FIX::FIELD::OrdStatus, std::string( 1, o.status ) );
    if ( !o.account.empty() )
      r.setField( FIX::FIELD::Account, o.account );
    r.setField( FIX::FIELD::Symbol, o.symbol.empty() ? "NONE" : o.symbol );
    r.setField( FIX::FIELD::Side, o.side.empty() ? "1" : o.side );
    r.setField( FIX::FIELD::OrderQty, o.qty.empty() ? "0" : o.qty );
    r.setField( FIX::FIELD::LeavesQty, o.status == '0' ? o.qty : "0" );
    r.setField( FIX::FIELD::CumQty, "0" );
    r.setField( FIX::FIELD::AvgPx, "0" );
    return r;
  }

  void send( FIX::Message& m, const FIX::SessionID& id ) { FIX::Session::sendToTarget( m, id ); }

  void newOrder( const FIX::Message& m, const FIX::SessionID& id, bool fix42 )
  {
    Order o;
    o.clOrdID = get( m, FIX::FIELD::ClOrdID );
    o.symbol = get( m, FIX::FIELD::Symbol );
    o.side = get( m, FIX::FIELD::Side );
    o.qty = get( m, FIX::FIELD::OrderQty );
    o.account = get( m, FIX::FIELD::Account );
    if ( m_orders.count( key( id, o.clOrdID ) ) )
    {
      o.status = '8';
      FIX::Message r = report( o, '8', fix42, next( "E" ) );
      r.setField( FIX::FIELD::OrdRejReason, "6" );
      r.setField( FIX::FIELD::Text, "Duplicate ClOrdID" );
      send( r, id );
      return;
    }
    o.orderID = next( "O" );
    auto p = std::make_shared<Order>( o );
    m_orders[ key( id, o.clOrdID ) ] = p;
    FIX::Message r = report( *p, '0', fix42, next( "E" ) );
    send( r, id );
  }

  void cancel( const FIX::Message& m, const FIX::SessionID& id, bool fix42 )
  {
    const std::string clOrdID = get( m, FIX::FIELD::ClOrdID );
    const std::string orig = get( m, FIX::FIELD::OrigClOrdID );
    auto it = m_orders.find( key( id, orig ) );
    if ( it == m_orders.end() || it->second->status != '0' )
    {
      FIX::Message r;
      r.getHeader().setField( FIX::FIELD::MsgType, "9" );
      r.setField( FIX::FIELD::ClOrdID, clOrdID );
      r.setField( FIX::FIELD::OrigClOrdID, orig );
      r.setField( FIX::FIELD::OrderID, it == m_orders.end() ? "NONE" : it->second->orderID );
      r.setField( FIX::FIELD::OrdStatus, it == m_orders.end() ? "8" : std::string( 1, it->second->status ) );
      r.setField( FIX::FIELD::CxlRejResponseTo, "1" );
      r.setField( FIX::FIELD::CxlRejReason, it == m_orders.end() ? "1" : "0" );
      send( r, id );
      return;
    }
    std::shared_ptr<Order> o = it->second;
    o->status = '4';
    m_orders[ key( id, clOrdID ) ] = o;
    Order as = *o;
    as.clOrdID = clOrdID;
    FIX::Message r = report( as, '4', fix42, next( "E" ) );
    r.setField( FIX::FIELD::OrigClOrdID, orig );
    send( r, id );
  }

  void status( const FIX::Message& m, const FIX::SessionID& id, bool fix42 )
  {
    const std::string clOrdID = get( m, FIX::FIELD::ClOrdID );
    auto it = m_orders.find( key( id, clOrdID ) );
    if ( it == m_orders.end() )
    {
      Order o;
      o.clOrdID = clOrdID;
      o.symbol = get( m, FIX::FIELD::Symbol );
      o.side = get( m, FIX::FIELD::Side );
      o.status = '8';
      FIX::Message r = report( o, 'I', fix42, "0" );
      r.setField( FIX::FIELD::OrdRejReason, "5" );
      r.setField( FIX::FIELD::Text, "Unknown order" );
      send( r, id );
      return;
    }
    Order as = *it->second;
    as.clOrdID = clOrdID;
    FIX::Message r = report( as, 'I', fix42, "0" );
    send( r, id );
  }

  static std::string key( const FIX::SessionID& id, const std::string& clOrdID )
  {
    return id.toString() + " " + clOrdID;
  }

  std::string next( const std::string& prefix ) { return prefix + std::to_string( ++m_counter ); }

  std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Order>> m_orders; // by session and ClOrdID (an order's or its cancel's)
  long m_counter = 0;
};

} // namespace

int main( int argc, char** argv )
{
  if ( argc != 2 )
  {
    std::cout << "usage: " << argv[ 0 ] << " FILE" << std::endl;
    return 2;
  }
  try
  {
    FIX::SessionSettings settings( argv[ 1 ] );
    Venue venue;
    FIX::FileStoreFactory storeFactory( settings );
    FIX::ScreenLogFactory logFactory( settings );
    FIX::SocketAcceptor acceptor( venue, storeFactory, settings, logFactory );
    acceptor.start();
    std::cout << "statusvenue: listening" << std::endl;
    std::string line;
    while ( std::getline( std::cin, line ) ) {}
    acceptor.stop();
    return 0;
  }
  catch ( std::exception& e )
  {
    std::cout << e.what() << std::endl;
    return 1;
  }
}
