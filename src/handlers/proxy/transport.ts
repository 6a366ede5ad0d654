import type { ClientRequest, ClientResponse } from "../../http/upstream.ts";

/** Request facts the CGI-style protocols (uwsgi, FastCGI) send as variables. */
export interface CgiInfo {
  scriptName: string;
  /** Decoded path after the script name. */
  pathInfo: string;
  serverName: string;
  serverPort: string;
  remoteAddr: string;
  remotePort: number;
  https: boolean;
  protocol: string;
}

/** A request on its way to an upstream, with what CGI-style protocols need besides. */
export interface UpstreamRequest extends ClientRequest {
  cgi: CgiInfo;
}

/** Speaks one protocol to one upstream. */
export interface Transport {
  request(req: UpstreamRequest): Promise<ClientResponse>;
  close(): Promise<void>;
}
