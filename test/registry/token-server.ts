import { createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { GeneratedCertificates } from "../sandbox/index.ts";

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** Token requests answered so far. */
  readonly issued: number;
  close(): Promise<void>;
}

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString("base64url");
}

/**
 * A small token service for docker-registry's `auth.token`: it signs ES256 JWTs with the test
 * CA's key and puts the CA certificate in the `x5c` header, which the registry checks against its
 * `rootcertbundle`. With `credentials`, it grants tokens only to that user.
 */
export async function startTokenServer(options: {
  certificates: GeneratedCertificates;
  credentials?: { username: string; password: string };
  expiresInSeconds?: number;
}): Promise<TokenServer> {
  const key = createPrivateKey(await readFile(options.certificates.caCertPath.replace(/ca\.crt$/, "ca.key")));
  const certificate = new X509Certificate(options.certificates.caCertPem);
  const service = "prepull-test-registry";
  const issuer = "prepull-test-issuer";
  let issued = 0;

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://token");
    if (options.credentials) {
      const expected = `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}`;
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { "content-type": "application/json" });
        response.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
        return;
      }
    }
    issued += 1;
    const access = (url.searchParams.getAll("scope").join(" ") || "")
      .split(" ")
      .filter(Boolean)
      .map((scope) => {
        const [type = "", name = "", actions = ""] = scope.split(":");
        return { type, name, actions: actions.split(",") };
      });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresInSeconds ?? 300;
    const header = { alg: "ES256", typ: "JWT", x5c: [certificate.raw.toString("base64")] };
    const claims = {
      iss: issuer,
      sub: options.credentials?.username ?? "",
      aud: url.searchParams.get("service") ?? service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ token: `${signingInput}.${base64url(signature)}`, expires_in: expiresIn }));
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      resolve();
    }),
  );
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    get issued() {
      return issued;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
