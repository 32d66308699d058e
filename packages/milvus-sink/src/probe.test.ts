import { describe, expect, it } from 'vitest';
import { indexNodesApartOf } from './probe.ts';

const node = (type: string, ip: string) => ({ type, host: ip.replace(/:\d+$/, ''), cores: 2 });

describe('where the target builds its indexes (GetMetrics system_info)', () => {
  it('a standalone server (every role on one host, as 2.3.5 answers here) builds beside the load', () => {
    const self = {
      nodes: [
        node('querynode', '127.0.0.1:19544'),
        node('datanode', '127.0.0.1:19547'),
        node('indexnode', '127.0.0.1:19545'),
        node('proxy', '127.0.0.1:19542'),
      ],
      answer: 'the server describes a Milvus deployment of 4 nodes',
    };
    const c = indexNodesApartOf(self);
    expect(c).toMatchObject({ value: false, how: 'probed' });
    expect(c.detail).toMatch(/indexes are built by 1 indexnode\(s\) on 127\.0\.0\.1; writes are taken on 127\.0\.0\.1: the same host \(2 cores\)/);
  });

  it('a distributed deployment with index nodes on their own hosts builds apart', () => {
    const self = {
      nodes: [node('proxy', '10.0.0.2:19530'), node('datanode', '10.0.0.3:21124'), node('indexnode', '10.0.0.5:21121'), node('indexnode', '10.0.0.6:21121')],
      answer: 'a deployment',
    };
    expect(indexNodesApartOf(self)).toMatchObject({ value: true, how: 'probed' });
  });

  it('Milvus 2.6 has no index nodes: its data nodes build, apart from the streaming nodes and proxies that take writes', () => {
    const self = {
      nodes: [node('proxy', '10.0.0.2:19530'), node('streamingnode', '10.0.0.3:22222'), node('datanode', '10.0.0.4:21124')],
      answer: 'a 2.6 deployment',
    };
    expect(indexNodesApartOf(self)).toMatchObject({ value: true, how: 'probed' });
    const oneHost = {
      nodes: [node('proxy', '127.0.0.1:19530'), node('streamingnode', '127.0.0.1:22222'), node('datanode', '127.0.0.1:21124')],
      answer: 'a 2.6 standalone',
    };
    expect(indexNodesApartOf(oneHost)).toMatchObject({ value: false, how: 'probed' });
  });

  it('is unknown where the server refuses to describe itself or names no hosts (Zilliz Cloud, Milvus Lite)', () => {
    expect(indexNodesApartOf({ nodes: null, answer: 'the server refuses to describe itself: denied' })).toMatchObject({ value: null, how: 'unknown' });
    expect(indexNodesApartOf({ nodes: [], answer: 'the server answers the system description with nothing' })).toMatchObject({ value: null, how: 'unknown' });
    expect(
      indexNodesApartOf({
        nodes: [
          { type: 'indexnode', host: null, cores: null },
          { type: 'proxy', host: null, cores: null },
        ],
        answer: 'x',
      }).value,
    ).toBeNull();
  });
});
