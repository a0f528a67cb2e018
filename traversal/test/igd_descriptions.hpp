#pragma once
// Device descriptions as real gateways serve them, for the description parser's and the
// UPnP client's tests.
#include <string_view>

namespace natsim::traversal::upnp::testdata {

// miniupnpd 2.3 (rootDesc.xml as genXMLDesc writes it: one line, no URLBase, UDA 1.1)
// built without IGD v2: IGD:1 > WANDevice:1 > WANConnectionDevice:1 > WANIPConnection:1.
// Served at http://192.168.1.1:5000/rootDesc.xml.
inline constexpr std::string_view kMiniupnpdV1 =
    R"(<?xml version="1.0"?>)"
    "\r\n"
    R"(<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion>)"
    R"(<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>OpenWrt router</friendlyName>)"
    R"(<manufacturer>OpenWrt</manufacturer><manufacturerURL>https://openwrt.org/</manufacturerURL><modelDescription>OpenWrt router</modelDescription>)"
    R"(<modelName>OpenWrt router</modelName><modelNumber>1</modelNumber><modelURL>https://openwrt.org/</modelURL><serialNumber>00000000</serialNumber>)"
    R"(<UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d21</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>)"
    R"(<serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList>)"
    R"(<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><friendlyName>WANDevice</friendlyName><manufacturer>MiniUPnP</manufacturer>)"
    R"(<manufacturerURL>http://miniupnp.free.fr/</manufacturerURL><modelDescription>WAN Device</modelDescription><modelName>WAN Device</modelName><modelNumber>20230225</modelNumber>)"
    R"(<modelURL>http://miniupnp.free.fr/</modelURL><serialNumber>00000000</serialNumber><UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d22</UDN><UPC>000000000000</UPC>)"
    R"(<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>)"
    R"(<SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList>)"
    R"(<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><friendlyName>WANConnectionDevice</friendlyName>)"
    R"(<manufacturer>MiniUPnP</manufacturer><manufacturerURL>http://miniupnp.free.fr/</manufacturerURL><modelDescription>MiniUPnP daemon</modelDescription>)"
    R"(<modelName>MiniUPnPd</modelName><modelNumber>20230225</modelNumber><modelURL>http://miniupnp.free.fr/</modelURL><serialNumber>00000000</serialNumber>)"
    R"(<UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d23</UDN><UPC>000000000000</UPC><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>)"
    R"(<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>)"
    R"(</serviceList></device></deviceList></device></deviceList><presentationURL>http://192.168.1.1/</presentationURL></device></root>)";

// miniupnpd 2.3 with IGD v2 (--enable-igd2): IGD:2, WANIPConnection:2 and the IPv6
// firewall control service beside it.
inline constexpr std::string_view kMiniupnpdV2 =
    R"(<?xml version="1.0"?>)"
    "\r\n"
    R"(<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion>)"
    R"(<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>OpenWrt router</friendlyName>)"
    R"(<manufacturer>OpenWrt</manufacturer><UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d21</UDN>)"
    R"(<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId>)"
    R"(<SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList>)"
    R"(<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><friendlyName>WANDevice</friendlyName><UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d22</UDN>)"
    R"(<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>)"
    R"(<SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList>)"
    R"(<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><friendlyName>WANConnectionDevice</friendlyName>)"
    R"(<UDN>uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d23</UDN><serviceList>)"
    R"(<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>)"
    R"(<SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>)"
    R"(<service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId>)"
    R"(<SCPDURL>/WANIP6FC.xml</SCPDURL><controlURL>/ctl/IP6FCtl</controlURL><eventSubURL>/evt/IP6FCtl</eventSubURL></service>)"
    R"(</serviceList></device></deviceList></device></deviceList><presentationURL>http://192.168.1.1/</presentationURL></device></root>)";

// A DSL router in the style of a FRITZ!Box (UDA 1.0, indented, URLBase on port 49000):
// the WANPPPConnection:1 comes first in the document, the WANIPConnection:1 second.
inline constexpr std::string_view kDslRouterV1 = R"(<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <URLBase>http://192.168.178.1:49000</URLBase>
  <device>
    <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
    <friendlyName>DSL router</friendlyName>
    <UDN>uuid:75802409-bccb-40e7-8e6c-2c91fa0e4a11</UDN>
    <serviceList>
      <service>
        <serviceType>urn:schemas-any-com:service:Any:1</serviceType>
        <serviceId>urn:any-com:serviceId:any1</serviceId>
        <controlURL>/igdupnp/control/any</controlURL>
        <eventSubURL>/igdupnp/control/any</eventSubURL>
        <SCPDURL>/any.xml</SCPDURL>
      </service>
    </serviceList>
    <deviceList>
      <device>
        <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
        <UDN>uuid:76802409-bccb-40e7-8e6c-2c91fa0e4a11</UDN>
        <deviceList>
          <device>
            <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
            <UDN>uuid:77802409-bccb-40e7-8e6c-2c91fa0e4a11</UDN>
            <serviceList>
              <service>
                <serviceType>urn:schemas-upnp-org:service:WANDSLLinkConfig:1</serviceType>
                <serviceId>urn:upnp-org:serviceId:WANDSLLinkC1</serviceId>
                <controlURL>/igdupnp/control/WANDSLLinkC1</controlURL>
                <eventSubURL>/igdupnp/control/WANDSLLinkC1</eventSubURL>
                <SCPDURL>/igddslSCPD.xml</SCPDURL>
              </service>
              <service>
                <serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
                <serviceId>urn:upnp-org:serviceId:WANPPPConn1</serviceId>
                <controlURL>/igdupnp/control/WANPPPConn1</controlURL>
                <eventSubURL>/igdupnp/control/WANPPPConn1</eventSubURL>
                <SCPDURL>/igdconnSCPD.xml</SCPDURL>
              </service>
              <service>
                <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
                <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
                <controlURL>/igdupnp/control/WANIPConn1</controlURL>
                <eventSubURL>/igdupnp/control/WANIPConn1</eventSubURL>
                <SCPDURL>/igdicfgSCPD.xml</SCPDURL>
              </service>
            </serviceList>
          </device>
        </deviceList>
      </device>
    </deviceList>
    <presentationURL>http://fritz.box</presentationURL>
  </device>
</root>
)";

// A PPPoE-only router with relative control URLs and a prefixed namespace.
inline constexpr std::string_view kPppOnlyRelative = R"(<?xml version="1.0" encoding="utf-8"?>
<d:root xmlns:d="urn:schemas-upnp-org:device-1-0">
 <d:device>
  <d:deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</d:deviceType>
  <d:deviceList><d:device>
   <d:deviceType>urn:schemas-upnp-org:device:WANDevice:1</d:deviceType>
   <d:deviceList><d:device>
    <d:deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</d:deviceType>
    <d:serviceList><d:service>
     <d:serviceType> urn:schemas-upnp-org:service:WANPPPConnection:1 </d:serviceType>
     <d:controlURL>upnp/control/WANPPPConn1</d:controlURL>
    </d:service></d:serviceList>
   </d:device></d:deviceList>
  </d:device></d:deviceList>
 </d:device>
</d:root>
)";

}  // namespace natsim::traversal::upnp::testdata
