import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { KubeApi } from "../kube/index.ts";
import { daemonSetExpectation, type KubeConnection } from "./index.ts";

/** An API server that answers DaemonSets' desired counts from a map, and records what it was asked. */
function fakeApi(desired: Map<string, number>) {
  const asked: string[] = [];
  let closed = 0;
  const api: KubeApi = {
    get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
      asked.push(path);
      const count = desired.get(path);
      if (count === undefined) return Promise.reject(new Error(`GET ${path}: 403 forbidden`));
      return Promise.resolve(schema.parse({ status: { desiredNumberScheduled: count } }));
    },
    patch: () => Promise.reject(new Error("not here")),
    create: () => Promise.reject(new Error("not here")),
    close: () => {
      closed += 1;
      return Promise.resolve();
    },
  };
  return { api, asked, closed: () => closed };
}

const PATH = "/apis/apps/v1/namespaces/prepull/daemonsets/prepull-agent";

describe("daemonSetExpectation", () => {
  it("reads the count every round over one connection, in the pod's namespace unless named", async () => {
    const desired = new Map([[PATH, 3]]);
    const fake = fakeApi(desired);
    let connects = 0;
    const connect = (): Promise<KubeConnection> => {
      connects += 1;
      return Promise.resolve({ api: fake.api, namespace: "prepull" });
    };
    const expectation = daemonSetExpectation({ name: "prepull-agent" }, 1000, connect);
    expect(await expectation.expected()).toEqual({
      count: 3,
      source: "DaemonSet prepull/prepull-agent is scheduled on 3 nodes",
    });
    desired.set(PATH, 4);
    expect(await expectation.expected()).toMatchObject({ count: 4 });
    expect(connects).toBe(1);
    expect(fake.asked).toEqual([PATH, PATH]);
    await expectation.close();
    expect(fake.closed()).toBe(1);

    const elsewhere = daemonSetExpectation({ namespace: "infra", name: "agent" }, 1000, connect);
    expect(await elsewhere.expected()).toEqual({
      error: expect.stringContaining("403 forbidden") as unknown,
    });
    expect(fake.asked.at(-1)).toBe("/apis/apps/v1/namespaces/infra/daemonsets/agent");
  });

  it("makes a failed connection that round's error, and connects again on the next", async () => {
    const fake = fakeApi(new Map([[PATH, 2]]));
    const answers: Array<() => Promise<KubeConnection>> = [
      () => Promise.reject(new Error("not in a pod: KUBERNETES_SERVICE_HOST is not set")),
      () => Promise.resolve({ api: fake.api, namespace: "prepull" }),
    ];
    const expectation = daemonSetExpectation({ name: "prepull-agent" }, 1000, () => {
      const next = answers.shift();
      if (next === undefined) throw new Error("connected more than twice");
      return next();
    });
    expect(await expectation.expected()).toEqual({
      error: "not in a pod: KUBERNETES_SERVICE_HOST is not set",
    });
    expect(await expectation.expected()).toMatchObject({ count: 2 });
    expect(await expectation.expected()).toMatchObject({ count: 2 });
    await expectation.close();
    expect(fake.closed()).toBe(1);
  });

  it("closes nothing when it never connected", async () => {
    await expect(
      daemonSetExpectation({ name: "a" }, 1000, () => Promise.reject(new Error("x"))).close(),
    ).resolves.toBeUndefined();
  });
});
