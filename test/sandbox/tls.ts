import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { requireCommand } from "./processes.ts";

const run = promisify(execFile);

export interface GeneratedCertificates {
  readonly caCertPath: string;
  readonly caCertPem: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A fresh self-signed CA and a server certificate it signed, for 127.0.0.1 and localhost. */
export async function generateCertificates(
  dir: string,
  commonName = "127.0.0.1",
): Promise<GeneratedCertificates> {
  requireCommand("openssl", "openssl");
  const path = (name: string): string => join(dir, name);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=prepull test CA",
  ]);
  await writeFile(
    path("server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run("openssl", [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    path("server.key"),
    "-out",
    path("server.csr"),
    "-subj",
    `/CN=${commonName}`,
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    path("server.csr"),
    "-CA",
    path("ca.crt"),
    "-CAkey",
    path("ca.key"),
    "-CAcreateserial",
    "-out",
    path("server.crt"),
    "-days",
    "2",
    "-extfile",
    path("server.ext"),
  ]);
  return {
    caCertPath: path("ca.crt"),
    caCertPem: await readFile(path("ca.crt"), "utf8"),
    certPath: path("server.crt"),
    keyPath: path("server.key"),
  };
}
