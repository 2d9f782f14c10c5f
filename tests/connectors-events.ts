/**
 * Uplink events as the network servers publish them, written for these tests from the public
 * format documentation (ChirpStack v4 integration events with the JSON marshaler; The Things
 * Stack v3 data formats). Nothing is fetched. Fields a server omits when empty or zero (`fCnt`
 * 0, `f_cnt` 0) are omitted here too.
 */

export interface TestGateway {
  id: string;
  rssi: number;
  snr: number;
  lat?: number;
  lon?: number;
}

const GW_A: TestGateway = { id: '0016c001f153a14c', rssi: -87, snr: 7.5, lat: 52.0903, lon: 5.1214 };
const GW_B: TestGateway = { id: 'b827ebfffe61e1a2', rssi: -112, snr: -4.25, lat: 52.1011, lon: 5.0902 };
export const GATEWAYS = { A: GW_A, B: GW_B };

/** ChirpStack v4 `up` event (MQTT integration topic `application/{id}/device/{devEui}/event/up`, HTTP `?event=up`). */
export function chirpstackUp(o: { devEui: string; deviceName: string; deviceProfile: string; fCnt: number; time: Date; object: Record<string, unknown>; gateways?: TestGateway[] }): Record<string, unknown> {
  const gws = o.gateways ?? [GW_A];
  return {
    deduplicationId: `5c0a1d9e-3b6f-4c1e-9d0a-${o.fCnt.toString(16).padStart(12, '0')}`,
    time: o.time.toISOString().replace('Z', '123456+00:00'),
    deviceInfo: {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      tenantName: 'Commons hub',
      applicationId: CHIRPSTACK_APP,
      applicationName: 'field-sensors',
      deviceProfileId: '14855bf7-d10d-4aee-b618-ebfcb64dc7ad',
      deviceProfileName: o.deviceProfile,
      deviceName: o.deviceName,
      devEui: o.devEui,
      deviceClassEnabled: 'CLASS_A',
      tags: { field: 'north' },
    },
    devAddr: '01f2a3b4',
    adr: true,
    dr: 5,
    ...(o.fCnt ? { fCnt: o.fCnt } : {}),
    fPort: 2,
    confirmed: false,
    data: Buffer.from(JSON.stringify(o.object)).subarray(0, 11).toString('base64'),
    object: o.object,
    rxInfo: gws.map((g, i) => ({
      gatewayId: g.id,
      uplinkId: 4217106255 + i,
      nsTime: o.time.toISOString(),
      rssi: g.rssi,
      snr: g.snr,
      channel: 2,
      location: { latitude: g.lat, longitude: g.lon, altitude: 12 },
      context: 'E3OWOQ==',
      metadata: { region_common_name: 'EU868', region_config_id: 'eu868' },
      crcStatus: 'CRC_OK',
    })),
    txInfo: { frequency: 868_300_000, modulation: { lora: { bandwidth: 125_000, spreadingFactor: 7, codeRate: 'CR_4_5' } } },
  };
}

export const CHIRPSTACK_APP = '17c82e96-be03-4f38-aef3-f83d48582d97';
export const chirpstackTopic = (devEui: string, event = 'up'): string => `application/${CHIRPSTACK_APP}/device/${devEui}/event/${event}`;

/** The Things Stack v3 uplink message (MQTT `v3/{app}@{tenant}/devices/{id}/up`, and the webhook body). */
export function ttsUp(o: { deviceId: string; devEui: string; modelId?: string; fCnt: number; receivedAt: Date; decoded: Record<string, unknown>; gateways?: TestGateway[] }): Record<string, unknown> {
  const gws = o.gateways ?? [GW_A];
  return {
    end_device_ids: { device_id: o.deviceId, application_ids: { application_id: TTS_APP }, dev_eui: o.devEui.toUpperCase(), join_eui: '0000000000000000', dev_addr: '260B1234' },
    correlation_ids: [`as:up:01H${o.fCnt}`, `rpc:/ttn.lorawan.v3.AppAs/SimulateUplink:${o.fCnt}`],
    received_at: new Date(o.receivedAt.getTime() + 40).toISOString(),
    uplink_message: {
      session_key_id: 'AXBSH1Pk6Z0G166VgPsKgg==',
      ...(o.fCnt ? { f_cnt: o.fCnt } : {}),
      f_port: 2,
      frm_payload: Buffer.from(JSON.stringify(o.decoded)).subarray(0, 11).toString('base64'),
      decoded_payload: o.decoded,
      rx_metadata: gws.map((g) => ({
        gateway_ids: { gateway_id: `gw-${g.id.slice(-4)}`, eui: g.id.toUpperCase() },
        time: o.receivedAt.toISOString(),
        timestamp: 2_040_934_975,
        rssi: g.rssi,
        channel_rssi: g.rssi,
        snr: g.snr,
        location: { latitude: g.lat, longitude: g.lon, altitude: 12, source: 'SOURCE_REGISTRY' },
        uplink_token: 'ChIKEAoOZXUtZ2F0ZXdheS0xEMG5',
        received_at: o.receivedAt.toISOString(),
      })),
      settings: { data_rate: { lora: { bandwidth: 125000, spreading_factor: 7, coding_rate: '4/5' } }, frequency: '868100000', timestamp: 2_040_934_975, time: o.receivedAt.toISOString() },
      received_at: o.receivedAt.toISOString(),
      consumed_airtime: '0.056576s',
      ...(o.modelId ? { version_ids: { brand_id: 'commons-labs', model_id: o.modelId, hardware_version: '1.0', firmware_version: '1.2', band_id: 'EU_863_870' } } : {}),
      network_ids: { net_id: '000013', tenant_id: TTS_TENANT, cluster_id: 'eu1', cluster_address: 'eu1.cloud.thethings.network' },
    },
  };
}

export const TTS_APP = 'commons-hub';
export const TTS_TENANT = 'ttn';
export const ttsTopic = (deviceId: string): string => `v3/${TTS_APP}@${TTS_TENANT}/devices/${deviceId}/up`;
