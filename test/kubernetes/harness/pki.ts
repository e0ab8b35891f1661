import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";

const run = promisify(execFile);

/** A client identity: the API server reads the user from CN and the groups from O. */
export interface Identity {
  readonly user: string;
  readonly groups?: readonly string[];
}

export interface Credential {
  readonly certPath: string;
  readonly keyPath: string;
}

/**
 * A cluster CA with the certificates kubeadm's "PKI certificates and requirements" lists for a
 * single control plane, made with openssl. EC P-256 keys throughout: quick to make, and every
 * component accepts them (the service-account tokens are then signed with ES256).
 */
export interface ClusterPki {
  readonly dir: string;
  readonly caCertPath: string;
  readonly apiserver: Credential;
  readonly apiserverKubeletClient: Credential;
  readonly serviceAccountKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
  /** A client certificate for `identity`, signed by the cluster CA. */
  issueClient(name: string, identity: Identity): Promise<Credential>;
  /** A kubeconfig for `identity` against `server`. */
  kubeconfig(name: string, server: string, identity: Identity): Promise<string>;
}

const DAYS = "2";

async function newKey(path: string): Promise<void> {
  await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
}

function subject({ user, groups = [] }: Identity): string {
  return [...groups.map((group) => `/O=${group}`), `/CN=${user}`].join("");
}

export async function createClusterPki(dir: string, serverAltNames: readonly string[]): Promise<ClusterPki> {
  const path = (name: string): string => join(dir, name);
  const caCertPath = path("ca.crt");
  await newKey(path("ca.key"));
  await run("openssl", [
    ...["req", "-x509", "-new", "-key", path("ca.key"), "-out", caCertPath, "-days", DAYS],
    ...["-subj", "/CN=prepull-test-kubernetes-ca", "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"],
  ]);

  const issue = async (name: string, subjectLine: string, extensions: string): Promise<Credential> => {
    const credential = { certPath: path(`${name}.crt`), keyPath: path(`${name}.key`) };
    await newKey(credential.keyPath);
    await run("openssl", [
      "req",
      "-new",
      "-key",
      credential.keyPath,
      "-subj",
      subjectLine,
      "-out",
      path(`${name}.csr`),
    ]);
    await writeFile(
      path(`${name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${extensions}\n`,
    );
    await run("openssl", [
      ...["x509", "-req", "-in", path(`${name}.csr`), "-CA", caCertPath, "-CAkey", path("ca.key")],
      ...[
        "-set_serial",
        `0x${randomBytes(8).toString("hex")}`,
        "-out",
        credential.certPath,
        "-days",
        DAYS,
        "-extfile",
        path(`${name}.ext`),
      ],
    ]);
    return credential;
  };
  const issueClient = (name: string, identity: Identity): Promise<Credential> =>
    issue(name, subject(identity), "extendedKeyUsage=clientAuth");

  const [apiserver, apiserverKubeletClient] = await Promise.all([
    issue(
      "apiserver",
      "/CN=kube-apiserver",
      `extendedKeyUsage=serverAuth\nsubjectAltName=${serverAltNames.join(",")}`,
    ),
    issueClient("apiserver-kubelet-client", {
      user: "kube-apiserver-kubelet-client",
      groups: ["system:masters"],
    }),
    newKey(path("sa.key")),
  ]);
  await run("openssl", ["pkey", "-in", path("sa.key"), "-pubout", "-out", path("sa.pub")]);

  return {
    dir,
    caCertPath,
    apiserver,
    apiserverKubeletClient,
    serviceAccountKeyPath: path("sa.key"),
    serviceAccountPublicKeyPath: path("sa.pub"),
    issueClient,
    async kubeconfig(name, server, identity) {
      const credential = await issueClient(name, identity);
      const file = path(`${name}.kubeconfig`);
      await writeFile(
        file,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "prepull-test", cluster: { server, "certificate-authority": caCertPath } }],
          users: [
            {
              name: identity.user,
              user: { "client-certificate": credential.certPath, "client-key": credential.keyPath },
            },
          ],
          contexts: [{ name: "prepull-test", context: { cluster: "prepull-test", user: identity.user } }],
          "current-context": "prepull-test",
        }),
      );
      return file;
    },
  };
}
