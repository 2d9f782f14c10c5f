/**
 * A regional species list for the default hub (an upland valley in northern England): the birds
 * and anurans an acoustic monitor can hear, and the plants, butterflies and mammals citizens
 * report. Scientific names follow current British lists. `commonness` (1 rare – 5 abundant) sets
 * a species' expected rank in a site's abundance distribution; seasons are yearFraction windows.
 */

export type Habitat = 'woodland' | 'wetland' | 'upland' | 'farmland';
export type TaxonGroup = 'bird' | 'owl' | 'amphibian' | 'plant' | 'butterfly' | 'mammal';

export interface Species {
  name: string;
  common: string;
  group: TaxonGroup;
  habitats: readonly Habitat[];
  commonness: 1 | 2 | 3 | 4 | 5;
  /** 'summer' migrants are present mid-April to mid-September, 'winter' visitors mid-October to late March. */
  migrant?: 'summer' | 'winter';
  /** Detectable by sound. */
  calls: boolean;
  /** Threatened or collected: its exact location must never be published. */
  sensitive?: boolean;
  /** For plants and butterflies: the yearFraction window in which they are seen (flowering, flight). */
  season?: readonly [number, number];
}

const W: Habitat = 'woodland';
const L: Habitat = 'wetland';
const U: Habitat = 'upland';
const A: Habitat = 'farmland';

type Row = [name: string, common: string, group: TaxonGroup, habitats: Habitat[], commonness: Species['commonness'], extra?: Partial<Species>];

const rows: Row[] = [
  // Resident songbirds and others
  ['Erithacus rubecula', 'Robin', 'bird', [W, A, L], 5],
  ['Troglodytes troglodytes', 'Wren', 'bird', [W, A, L, U], 5],
  ['Turdus merula', 'Blackbird', 'bird', [W, A], 5],
  ['Fringilla coelebs', 'Chaffinch', 'bird', [W, A], 5],
  ['Parus major', 'Great tit', 'bird', [W, A], 5],
  ['Cyanistes caeruleus', 'Blue tit', 'bird', [W, A, L], 5],
  ['Columba palumbus', 'Woodpigeon', 'bird', [W, A], 5],
  ['Corvus corone', 'Carrion crow', 'bird', [W, A, U, L], 4],
  ['Turdus philomelos', 'Song thrush', 'bird', [W, A], 4],
  ['Turdus viscivorus', 'Mistle thrush', 'bird', [W, A], 3],
  ['Prunella modularis', 'Dunnock', 'bird', [W, A], 4],
  ['Aegithalos caudatus', 'Long-tailed tit', 'bird', [W, L], 4],
  ['Periparus ater', 'Coal tit', 'bird', [W], 4],
  ['Poecile palustris', 'Marsh tit', 'bird', [W], 2],
  ['Sitta europaea', 'Nuthatch', 'bird', [W], 3],
  ['Certhia familiaris', 'Treecreeper', 'bird', [W], 3],
  ['Dendrocopos major', 'Great spotted woodpecker', 'bird', [W], 4],
  ['Picus viridis', 'Green woodpecker', 'bird', [W, A], 3],
  ['Regulus regulus', 'Goldcrest', 'bird', [W], 4],
  ['Garrulus glandarius', 'Jay', 'bird', [W], 3],
  ['Pica pica', 'Magpie', 'bird', [W, A], 4],
  ['Corvus monedula', 'Jackdaw', 'bird', [W, A, U], 4],
  ['Corvus frugilegus', 'Rook', 'bird', [A], 4],
  ['Columba oenas', 'Stock dove', 'bird', [W, A], 2],
  ['Streptopelia decaocto', 'Collared dove', 'bird', [A], 3],
  ['Pyrrhula pyrrhula', 'Bullfinch', 'bird', [W, A], 2],
  ['Carduelis carduelis', 'Goldfinch', 'bird', [A, W], 4],
  ['Chloris chloris', 'Greenfinch', 'bird', [A, W], 3],
  ['Spinus spinus', 'Siskin', 'bird', [W], 3],
  ['Linaria cannabina', 'Linnet', 'bird', [A, U], 3],
  ['Emberiza citrinella', 'Yellowhammer', 'bird', [A], 3],
  ['Emberiza schoeniclus', 'Reed bunting', 'bird', [L, A], 3],
  ['Passer domesticus', 'House sparrow', 'bird', [A], 4],
  ['Sturnus vulgaris', 'Starling', 'bird', [A], 4],
  ['Motacilla alba', 'Pied wagtail', 'bird', [A, L], 3],
  ['Motacilla cinerea', 'Grey wagtail', 'bird', [L], 3],
  ['Cinclus cinclus', 'Dipper', 'bird', [L], 2],
  ['Alcedo atthis', 'Kingfisher', 'bird', [L], 2],
  ['Ardea cinerea', 'Grey heron', 'bird', [L], 3],
  ['Anas platyrhynchos', 'Mallard', 'bird', [L], 4],
  ['Gallinula chloropus', 'Moorhen', 'bird', [L], 3],
  ['Fulica atra', 'Coot', 'bird', [L], 2],
  ['Buteo buteo', 'Buzzard', 'bird', [W, A, U], 3],
  ['Falco tinnunculus', 'Kestrel', 'bird', [A, U], 2],
  ['Accipiter nisus', 'Sparrowhawk', 'bird', [W], 2],
  ['Phasianus colchicus', 'Pheasant', 'bird', [W, A], 4],
  ['Alauda arvensis', 'Skylark', 'bird', [U, A], 4],
  ['Anthus pratensis', 'Meadow pipit', 'bird', [U], 5],
  ['Lagopus lagopus', 'Red grouse', 'bird', [U], 3],
  ['Saxicola rubicola', 'Stonechat', 'bird', [U], 2],
  ['Numenius arquata', 'Curlew', 'bird', [U, L], 3],
  ['Vanellus vanellus', 'Lapwing', 'bird', [U, A, L], 3],
  ['Gallinago gallinago', 'Snipe', 'bird', [U, L], 2],
  ['Tringa totanus', 'Redshank', 'bird', [L, U], 2],
  ['Scolopax rusticola', 'Woodcock', 'bird', [W], 1],
  // Summer migrants
  ['Phylloscopus collybita', 'Chiffchaff', 'bird', [W, L], 5, { migrant: 'summer' }],
  ['Phylloscopus trochilus', 'Willow warbler', 'bird', [W, L, U], 5, { migrant: 'summer' }],
  ['Sylvia atricapilla', 'Blackcap', 'bird', [W], 4, { migrant: 'summer' }],
  ['Curruca communis', 'Whitethroat', 'bird', [A], 3, { migrant: 'summer' }],
  ['Phylloscopus sibilatrix', 'Wood warbler', 'bird', [W], 1, { migrant: 'summer' }],
  ['Phoenicurus phoenicurus', 'Redstart', 'bird', [W], 2, { migrant: 'summer' }],
  ['Ficedula hypoleuca', 'Pied flycatcher', 'bird', [W], 2, { migrant: 'summer' }],
  ['Muscicapa striata', 'Spotted flycatcher', 'bird', [W, A], 1, { migrant: 'summer' }],
  ['Cuculus canorus', 'Cuckoo', 'bird', [U, W, L], 2, { migrant: 'summer' }],
  ['Hirundo rustica', 'Swallow', 'bird', [A, L], 4, { migrant: 'summer' }],
  ['Delichon urbicum', 'House martin', 'bird', [A], 3, { migrant: 'summer' }],
  ['Apus apus', 'Swift', 'bird', [A], 3, { migrant: 'summer' }],
  ['Oenanthe oenanthe', 'Wheatear', 'bird', [U], 3, { migrant: 'summer' }],
  ['Acrocephalus schoenobaenus', 'Sedge warbler', 'bird', [L], 3, { migrant: 'summer' }],
  ['Acrocephalus scirpaceus', 'Reed warbler', 'bird', [L], 2, { migrant: 'summer' }],
  ['Actitis hypoleucos', 'Common sandpiper', 'bird', [L, U], 2, { migrant: 'summer' }],
  ['Anthus trivialis', 'Tree pipit', 'bird', [W, U], 2, { migrant: 'summer' }],
  // Winter visitors
  ['Turdus pilaris', 'Fieldfare', 'bird', [A, W], 3, { migrant: 'winter' }],
  ['Turdus iliacus', 'Redwing', 'bird', [A, W], 3, { migrant: 'winter' }],
  ['Fringilla montifringilla', 'Brambling', 'bird', [W], 1, { migrant: 'winter' }],
  // Owls (nocturnal)
  ['Strix aluco', 'Tawny owl', 'owl', [W], 3],
  ['Tyto alba', 'Barn owl', 'owl', [A, L], 2],
  ['Athene noctua', 'Little owl', 'owl', [A], 1],
  ['Asio otus', 'Long-eared owl', 'owl', [W], 1],
  // Anurans (calling at night in spring)
  ['Rana temporaria', 'Common frog', 'amphibian', [L, W, U, A], 4],
  ['Bufo bufo', 'Common toad', 'amphibian', [L, W, A], 3],
  ['Epidalea calamita', 'Natterjack toad', 'amphibian', [L], 1, { sensitive: true }],
  // Plants (seen, not heard), with flowering windows
  ['Cypripedium calceolus', "Lady's-slipper orchid", 'plant', [W, U], 1, { sensitive: true, season: [0.38, 0.5] }],
  ['Primula veris', 'Cowslip', 'plant', [A, U], 4, { season: [0.27, 0.4] }],
  ['Anemone nemorosa', 'Wood anemone', 'plant', [W], 4, { season: [0.22, 0.36] }],
  ['Hyacinthoides non-scripta', 'Bluebell', 'plant', [W], 5, { season: [0.29, 0.42] }],
  ['Orchis mascula', 'Early-purple orchid', 'plant', [W, U], 3, { season: [0.3, 0.42] }],
  ['Dactylorhiza fuchsii', 'Common spotted-orchid', 'plant', [U, A, W], 3, { season: [0.42, 0.58] }],
  ['Geranium sanguineum', 'Bloody crane\'s-bill', 'plant', [U], 2, { season: [0.45, 0.65] }],
  ['Caltha palustris', 'Marsh-marigold', 'plant', [L], 3, { season: [0.25, 0.42] }],
  ['Succisa pratensis', "Devil's-bit scabious", 'plant', [U, L], 3, { season: [0.55, 0.78] }],
  ['Calluna vulgaris', 'Heather', 'plant', [U], 5, { season: [0.58, 0.75] }],
  ['Galanthus nivalis', 'Snowdrop', 'plant', [W], 3, { season: [0.04, 0.18] }],
  ['Ranunculus ficaria', 'Lesser celandine', 'plant', [W, A], 4, { season: [0.15, 0.35] }],
  // Butterflies, with flight periods
  ['Aglais io', 'Peacock', 'butterfly', [W, A], 4, { season: [0.22, 0.8] }],
  ['Aglais urticae', 'Small tortoiseshell', 'butterfly', [A, U], 4, { season: [0.22, 0.8] }],
  ['Pieris napi', 'Green-veined white', 'butterfly', [A, L, W], 5, { season: [0.3, 0.75] }],
  ['Anthocharis cardamines', 'Orange-tip', 'butterfly', [W, L], 3, { season: [0.3, 0.45] }],
  ['Vanessa atalanta', 'Red admiral', 'butterfly', [A, W], 3, { season: [0.35, 0.82] }],
  ['Polyommatus icarus', 'Common blue', 'butterfly', [U, A], 3, { season: [0.4, 0.7] }],
  ['Argynnis aglaja', 'Dark green fritillary', 'butterfly', [U], 2, { season: [0.5, 0.63] }],
  ['Boloria euphrosyne', 'Pearl-bordered fritillary', 'butterfly', [W], 1, { sensitive: true, season: [0.35, 0.45] }],
  // Mammals
  ['Sciurus vulgaris', 'Red squirrel', 'mammal', [W], 2, { sensitive: true }],
  ['Lepus europaeus', 'Brown hare', 'mammal', [A, U], 3],
  ['Lutra lutra', 'Otter', 'mammal', [L], 1, { sensitive: true }],
  ['Capreolus capreolus', 'Roe deer', 'mammal', [W, A], 3],
  ['Meles meles', 'Badger', 'mammal', [W, A], 2],
  ['Vulpes vulpes', 'Red fox', 'mammal', [W, A, U], 3],
];

/** The regional species list. */
export const SPECIES: readonly Species[] = Object.freeze(
  rows.map(([name, common, group, habitats, commonness, extra]) =>
    Object.freeze({ name, common, group, habitats, commonness, calls: group === 'bird' || group === 'owl' || group === 'amphibian', ...extra }),
  ),
);

/** The threatened orchid whose exact colony location citizens report. */
export const SENSITIVE_ORCHID = 'Cypripedium calceolus';

/** Whether a summer migrant / winter visitor is present at yearFraction `yf` (residents always are). */
export function isPresent(s: Species, yf: number): boolean {
  if (s.migrant === 'summer') return yf >= 0.28 && yf <= 0.71;
  if (s.migrant === 'winter') return yf >= 0.79 || yf <= 0.22;
  return true;
}

/** Whether a plant or butterfly is in flower / on the wing at `yf` (always true for other groups). */
export function inSeason(s: Species, yf: number): boolean {
  if (!s.season) return true;
  return yf >= s.season[0] && yf <= s.season[1];
}
